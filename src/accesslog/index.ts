// Access logs: parsing combined-format lines (never keeping addresses) and the maintainer's review.
export { parseAccessLine, parseClfTime, type AccessEntry } from './parse.js';
export { review, renderReview, type Review } from './review.js';
