/** Beyond this much, an oversized upload is cut off rather than read to its end. */
const MAX_DRAIN_BYTES = 256 * 1024 * 1024;

/** Whether an upload of this declared size is still drained (rather than cut off) when refused. */
export const drainable = (bytes: number) => bytes <= MAX_DRAIN_BYTES;

/**
 * Reads and discards the rest of a refused upload. Answering while the client is still
 * sending makes the socket close with unread data, which resets the connection: the
 * client never sees the 413 and its SDK retries the upload as a network error.
 * @param counted bytes already read
 */
export async function drainUpload(reader: ReadableStreamDefaultReader<Uint8Array>, counted: number): Promise<void> {
  let size = counted;
  try {
    while (size <= MAX_DRAIN_BYTES) {
      const { value, done } = await reader.read();
      if (done) return;
      size += value.byteLength;
    }
    await reader.cancel();
  } catch {
    // The client went away: nothing left to answer.
  }
}
