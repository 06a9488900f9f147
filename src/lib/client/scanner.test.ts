import { describe, expect, it } from 'vitest';
import { cameraProblemOf } from './scanner';

const named = (name: string, message = '') => Object.assign(new Error(message), { name });

describe('camera problems in the app’s words', () => {
  it('tells a refusal, a missing camera, a busy one and an insecure page apart', () => {
    expect(cameraProblemOf(named('NotAllowedError', 'Permission denied'))).toBe('denied');
    expect(cameraProblemOf(named('NotFoundError', 'Requested device not found'))).toBe('no-camera');
    expect(cameraProblemOf(named('NotReadableError', 'Could not start video source'))).toBe('busy');
    expect(cameraProblemOf(Object.assign(new Error('insecure context'), { problem: 'insecure' }))).toBe('insecure');
  });

  it('never calls a camera that refused a wish "no camera"', () => {
    // Every wish is `ideal` and the last asks for any camera: if this still comes, it is something else.
    expect(cameraProblemOf(named('OverconstrainedError'))).toBe('other');
    expect(cameraProblemOf('weird')).toBe('other');
  });
});
