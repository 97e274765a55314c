export { environmentClaims } from './environment-claims.js';
export { release } from './release.js';
export { promotionControls } from './promotion-controls.js';
export { trainDeparture } from './train-departure.js';
