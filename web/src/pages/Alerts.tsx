export default function AlertsPage() {
  return <div class="empty">Coming soon</div>;
}
