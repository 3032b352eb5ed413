/** Where a finished tus upload's bytes go: the version's source key. */
import type { Services } from '../services.js';

/**
 * Puts a finished tus upload at the source key: a local upload is copied (tus removes its
 * file after answering); a remote one (S3) is moved server-side, and a source already in
 * place with the upload's size means a previous attempt moved it: it is used as is.
 */
export async function placeTusUpload(s: Services, uploadId: string, bytes: number, sourceKey: string): Promise<void> {
  const tusKey = s.store.tusUploadKey(uploadId);
  const local = s.store.localPath?.(tusKey);
  if (local) await s.store.putFile(sourceKey, local);
  else if ((await s.store.head(sourceKey))?.size !== bytes) await s.store.move(tusKey, sourceKey);
}
