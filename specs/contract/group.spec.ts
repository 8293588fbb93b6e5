// Contract specs of the 用户组 (group) group: the user-facing group list (Pro edition only).
import { test, expect } from '../../fixtures/target.js';
import { isPro, ok, proOnly } from './support.js';

test.describe('group', () => {
  test('GROUP-LIST-001 lists the user groups (without the anonymous group)', { annotation: [{ type: 'operation', description: 'listGroups' }] },
    async ({ user, target, sessions }) => {
      test.skip(!isPro(target), proOnly(target));
      const groups = ok(await user.GET('/group/list'));
      expect(groups.length).toBeGreaterThan(0);
      expect(groups.map((g) => g.id)).toContain(sessions.user!.user!.group!.id);
      expect(groups.map((g) => g.name)).not.toContain('Anonymous');
    });
});
