import { describeConformance } from '@cordon/core/conformance/vitest';
import { backend } from '../src/index.js';

// The kernel isolation must block every probe and hold every property; the advisory
// tier's honest `not-enforced` report is checked by `cordon conformance --option isolation=advisory`.
describeConformance('spawn', async () => backend.conformance(await backend.create({}), {}));
