// `npm run bench`: the project's benchmarks, each printing one line per figure. Speed and memory are measured here,
// never in tests. `npm run bench -- contract` or `-- upload` runs one of them.
import { benchContract } from '../bench/contract.js';
import { benchUpload } from '../bench/upload.js';

const only = process.argv[2];
if (!only || only === 'contract') for (const line of await benchContract()) console.log(line);
if (!only || only === 'upload') for (const line of await benchUpload()) console.log(line);
