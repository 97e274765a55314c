export { release } from './release.js';
