export { environmentClaims } from './environment-claims.js';
export { release } from './release.js';
