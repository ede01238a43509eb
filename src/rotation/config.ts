import { z } from 'zod';
import { duration } from '../duration.js';

/** `rotation:` section: how root rotation waits for the fleet. */
export const rotationConfigSchema = z
  .object({
    rootBundleAckShare: z.number().gt(0).max(1).default(1).describe('Share of bundle subscribers that must ACK a bundle carrying a new root before an intermediate chained to it activates.'),
    rootBundleGrace: duration.default(3600).describe('Activate anyway this long after the new root entered the bundle (logged).'),
  })
  .strict()
  .prefault({});
