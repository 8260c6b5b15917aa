// Preloaded into klv (`node --import`) by the quirk matrix (test/helpers/quirk-matrix.ts).
//
// klv's retry waits are capped exponential backoff with full jitter drawn from Math.random
// (src/klaviyo/retry-policy.ts); nothing else in klv draws from it. A case's outcome depends on
// how many times klv tries and what it is answered, not on how long it waits in between, so the
// matrix draws every jitter at 5% of its range: five retries after HTML pages cost under a
// second instead of up to 15, and a case that must fail does so quickly. The waits keep their
// order and their floors (a Cloudflare challenge still waits at least 1, 2 and 4 s; a 429 still
// waits at least its Retry-After), so klv still backs off from Klaviyo as it would.
Math.random = () => 0.05;
