import type { ComponentType } from 'preact';
import { useEffect, useState } from 'preact/hooks';

/** Props of the PromQL editor (editor/PromqlEditor.tsx). */
export interface EditorProps {
  value: string;
  onChange: (v: string) => void;
  onRun: () => void;
  errorPos?: number;
  id?: string;
  label?: string;
  rows?: number;
}

let Loaded: ComponentType<EditorProps> | null = null;
let loading: Promise<void> | null = null;

/** Until the editor chunk is in, a plain textarea (same keys: Enter runs, Shift+Enter new line). */
function PlainEditor({ value, onChange, onRun, id = 'promql', label = 'PromQL expression', rows = 3 }: EditorProps) {
  return (
    <>
      <label class="visually-hidden" for={id}>
        {label}
      </label>
      <textarea
        id={id}
        rows={rows}
        style={{ width: '100%' }}
        value={value}
        onInput={(e) => onChange((e.target as HTMLTextAreaElement).value)}
        onKeyDown={(e) => {
          if (e.key === 'Enter' && !e.shiftKey) {
            e.preventDefault();
            onRun();
          }
        }}
      />
    </>
  );
}

/** The PromQL editor, loaded on first use so it is not part of the initial JavaScript. */
export function QueryEditor(props: EditorProps) {
  const [, setReady] = useState(!!Loaded);
  useEffect(() => {
    if (Loaded) return;
    loading ??= import('../editor/PromqlEditor.js').then((m) => {
      Loaded = m.default;
    });
    loading.then(() => setReady(true));
  }, []);
  const Ed = Loaded ?? PlainEditor;
  return <Ed {...props} />;
}
