export function LivePage() {
  return <section aria-label="Live trading">Live page (in progress)</section>;
}
