import type { DeviceSession, DeviceSessionRepository } from '@fpa/session';
import type { ChallengeInput } from '../http/challenge-request';
import { NOW, testSession } from '../testing/fakes';
import { RequestSessions } from './request-sessions';

describe('RequestSessions: a follow-up’s session is read once per request, whichever bindings ask', () => {
  it('one read for the same request and session; a new read for another request or another auth_session', async () => {
    const reads: string[] = [];
    const repo = { find: async (id: string): Promise<DeviceSession | undefined> => (reads.push(id), testSession(NOW, { authSession: id })) } as unknown as DeviceSessionRepository;
    const sessions = new RequestSessions(repo);
    const input: ChallengeInput = { auth_session: 's-1' };
    const [a, b] = await Promise.all([sessions.find(input, 's-1'), sessions.find(input, 's-1')]);
    expect(a).toBe(b);
    expect(reads).toEqual(['s-1']);
    await sessions.find({ auth_session: 's-1' }, 's-1');
    await sessions.find(input, 's-2');
    expect(reads).toEqual(['s-1', 's-1', 's-2']);
  });
});
