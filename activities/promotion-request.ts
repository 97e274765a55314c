/** The promotion request and result are declared with the activity contracts in model/. */
export type { PromotionRequest, PromotionResult } from '../model/promotion.js';
