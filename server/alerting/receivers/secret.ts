/**
 * Credentials in the notification config. A value given inline or through a `*_file` field; a
 * file is read when a notification is sent (as Alertmanager does), asynchronously and only if it
 * is a regular file: a FIFO or device cannot block the server, and every failure reads the same,
 * so the error does not tell whether a path exists (issue 13).
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';

/** What reading the config shows instead of a credential; a PUT that sends it back keeps the stored one. */
export const SECRET_MASK = '<secret>';

/** The longest secret file read (a token or URL, not a document). */
const MAX_SECRET_FILE = 64 * 1024;

export class SecretFileError extends Error {
  override name = 'SecretFileError';
}

/** Read a secret file: regular files only, never blocking, at most 64 KB, trimmed. */
export async function readSecretFile(path: string): Promise<string> {
  return (await readRegularFile(path, MAX_SECRET_FILE)).trim();
}

/** Read a file the config names: regular files only, never blocking, at most `max` bytes. */
export async function readRegularFile(path: string, max: number): Promise<string> {
  let fh;
  try {
    // O_NONBLOCK: opening a FIFO with no writer returns at once instead of waiting for one.
    fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
    const st = await fh.stat();
    if (!st.isFile() || st.size > max) throw new Error('not a regular file');
    const buf = Buffer.alloc(st.size);
    const { bytesRead } = await fh.read(buf, 0, st.size, 0);
    return buf.subarray(0, bytesRead).toString('utf8');
  } catch {
    throw new SecretFileError(`cannot read file ${JSON.stringify(path)}: it must be a readable regular file of at most ${max} bytes`);
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

/** A credential given inline or in a file; undefined when neither is set. */
export async function resolveSecret(value: string | undefined, file: string | undefined): Promise<string | undefined> {
  if (value !== undefined && value !== '') return value;
  if (file !== undefined && file !== '') return readSecretFile(file);
  return undefined;
}
