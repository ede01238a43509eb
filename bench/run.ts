import 'reflect-metadata';
import { runIssueBench, printIssueBench } from './issue.js';

/** `npm run bench`: every performance target, each with its same-run baseline. */
async function main(): Promise<void> {
  const only = process.argv[2];
  if (!only || only === 'issue') printIssueBench(await runIssueBench());
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
