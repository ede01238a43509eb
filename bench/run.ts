import 'reflect-metadata';
import { runIssueBench, printIssueBench } from './issue.js';
import { runSdsScaleBench, printSdsScaleBench } from './sds-scale.js';
import { runAuthJwtBench, printAuthJwtBench } from './auth-jwt.js';
import { runTransitBench, printTransitBench } from './transit.js';
import { runRenewalBench, printRenewalBench } from './renewal.js';
import { runCsrChecksBench, printCsrChecksBench } from './csr-checks.js';
import { runOverloadBench, printOverloadBench } from './overload.js';
import { runJoinTokenBench, printJoinTokenBench } from './join-token.js';
import { runFleetRotationBench, printFleetRotationBench } from './fleet-rotation.js';
import { runCliStartBench, printCliStartBench } from './cli-start.js';

/** `npm run bench`: every performance target, each with its same-run baseline. */
async function main(): Promise<void> {
  const only = process.argv[2];
  if (!only || only === 'issue') printIssueBench(await runIssueBench());
  if (!only || only === 'auth-jwt') printAuthJwtBench(await runAuthJwtBench());
  if (!only || only === 'sds') printSdsScaleBench(await runSdsScaleBench());
  if (!only || only === 'transit') printTransitBench(await runTransitBench());
  if (!only || only === 'renewal') printRenewalBench(await runRenewalBench());
  if (!only || only === 'overload') printOverloadBench(await runOverloadBench());
  if (!only || only === 'join-token') printJoinTokenBench(await runJoinTokenBench());
  if (!only || only === 'fleet-rotation') printFleetRotationBench(await runFleetRotationBench());
  if (!only || only === 'cli-start') printCliStartBench(runCliStartBench());
  // Also part of `issue`; alone, without the minute of issuance load around it.
  if (only === 'csr-checks') printCsrChecksBench(await runCsrChecksBench());
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
