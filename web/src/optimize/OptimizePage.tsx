export function OptimizePage() {
  return <section aria-label="Optimisation">Optimisation page (in progress)</section>;
}
