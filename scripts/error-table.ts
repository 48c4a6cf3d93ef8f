// Prints the README's table of error codes from lib/core/errors.ts (a unit test keeps them equal).
import { ERROR_CODES } from '../lib/core/errors.js';

console.log('| code | HTTP | meaning |\n|---|---|---|');
for (const [code, { http, summary }] of Object.entries(ERROR_CODES)) console.log(`| \`${code}\` | ${http} | ${summary} |`);
