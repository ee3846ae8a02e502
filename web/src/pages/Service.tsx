export default function ServicePage() {
  return <div class="empty">Coming soon</div>;
}
