export default function ExplorePage() {
  return <div class="empty">Coming soon</div>;
}
