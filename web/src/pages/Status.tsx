export default function StatusPage() {
  return <div class="empty">Coming soon</div>;
}
