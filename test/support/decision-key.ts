/** The decision key the test workers check proofs with, and the test gateways prove decisions with. */
export const TEST_DECISION_KEY = 'test-decision-key-shared-by-gateway-and-worker';
