// A JavaScript file for the panel and benchmark checks.
function clamp(x, lo, hi) {
  return Math.min(hi, Math.max(lo, x));
}

function sum(xs) {
  let total = 0;
  for (const x of xs) {
    total += x;
  }
  return total;
}

function mean(xs) {
