// Compile-time checks of the generated client (checked by `tsc`, test CT-TYP-001): a wrong parameter type or an
// unknown path does not compile. Never executed.
import type { CloudreveClient } from '../harness/client/index.js';

export async function typeChecks(client: CloudreveClient): Promise<void> {
  await client.PUT('/file/upload', { body: { uri: 'cloudreve://my/a.bin', size: 1, policy_id: '' } });
  // @ts-expect-error size is an integer, not a string
  await client.PUT('/file/upload', { body: { uri: 'cloudreve://my/a.bin', size: '1', policy_id: '' } });
  // @ts-expect-error uri is required
  await client.PUT('/file/upload', { body: { size: 1 } });
  await client.POST('/file/upload/{sessionId}/{index}', { params: { path: { sessionId: 's', index: 0 }, header: { 'Content-Length': 0 } }, body: '' });
  // @ts-expect-error the chunk index is a number
  await client.POST('/file/upload/{sessionId}/{index}', { params: { path: { sessionId: 's', index: 'zero' }, header: { 'Content-Length': 0 } }, body: '' });
  // @ts-expect-error no such path
  await client.GET('/file/nowhere');
  const info = await client.GET('/file/info', { params: { query: { uri: 'cloudreve://my/a.bin' } } });
  if (info.data && info.data.code === 0) {
    const size: number = info.data.data.size;
    // @ts-expect-error a file's name is a string
    const wrong: number = info.data.data.name;
    void size; void wrong;
  }
}
