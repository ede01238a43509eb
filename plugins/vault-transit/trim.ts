/**
 * When old Transit key versions may go: a version is needed while an
 * intermediate it certified can still have live leaves (until that
 * intermediate's notAfter, since no leaf outlives its intermediate), and the
 * newest version is always kept. Pure: the caller passes the time.
 */

export interface KeyVersionUse {
  version: number;
  /** Leaves signed with this version end by then (ms epoch); Infinity while not yet certified. */
  neededUntilMs: number;
}

/**
 * The new min_available_version, or undefined when nothing can be trimmed.
 * Versions absent from `uses` are not needed (ours that never got certified,
 * or versions someone else made), as long as they are below every needed one.
 */
export function trimFloor(input: {
  uses: readonly KeyVersionUse[];
  latestVersion: number;
  minAvailableVersion: number;
  nowMs: number;
}): number | undefined {
  let floor = input.latestVersion;
  for (const use of input.uses) {
    if (use.neededUntilMs > input.nowMs && use.version < floor) floor = use.version;
  }
  // Transit reports min_available_version 0 when every version since 1 is kept.
  return floor > Math.max(input.minAvailableVersion, 1) ? floor : undefined;
}
