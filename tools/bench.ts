// `npm run bench`: the project's benchmarks, each printing one line per figure. Speed is measured here, never in tests.
import { benchContract } from '../bench/contract.js';

for (const line of await benchContract()) console.log(line);
