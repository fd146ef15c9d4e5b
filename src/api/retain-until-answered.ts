import type { BodyReadTurn } from '../http/body-reads.ts';
import type { Retain } from '../providers/types.ts';

/**
 * How long one request may keep a body-read turn once its upstream answer has been read: storing,
 * recording and writing its answer take milliseconds, and a 1.5 MB answer reaches any client
 * faster than 300 KB/s well within it. A slower client keeps its bytes, but its turn goes to the
 * next upstream body, so slow clients cannot hold the gateway's reads.
 */
const ANSWER_TURN_LIMIT_MS = 5000;

/**
 * The `retain` of an API request (images/types.ts `Caller.retain`), for its response (`reply.raw`):
 * the body-read turns of the upstream answers its images came from end once the response has been
 * sent (or the client has gone) and the handler has finished with them (`finished`), whichever is
 * later. Until then the bytes of the answer, upstream base64 written to the client as it is, stay
 * in buffers nobody else may reuse; after `ANSWER_TURN_LIMIT_MS` the turn ends without giving its
 * buffer back to the pool.
 */
export function retainUntilAnswered(
  response: { once(event: 'close', listener: () => void): unknown },
  limitMs = ANSWER_TURN_LIMIT_MS,
): { retain: Retain; finished: () => void } {
  const turns = new Set<BodyReadTurn>();
  let pending = 2; // the response's 'close' and the handler's `finished`
  const settle = (): void => {
    pending -= 1;
    if (pending > 0) return;
    for (const turn of turns) turn.release();
    turns.clear();
  };
  // 'close' fires after a normal finish and when the connection drops first alike.
  response.once('close', settle);
  return {
    retain: (turn) => {
      if (pending === 0) return turn.release();
      turns.add(turn);
      setTimeout(() => {
        if (turns.delete(turn)) turn.detach();
      }, limitMs).unref();
    },
    finished: settle,
  };
}

/**
 * Runs an images route's handler with the `retain` of its response, and tells it the handler has
 * finished however the handler ends.
 */
export async function whileAnswering<T>(response: { once(event: 'close', listener: () => void): unknown }, handle: (retain: Retain) => Promise<T>): Promise<T> {
  const answer = retainUntilAnswered(response);
  try {
    return await handle(answer.retain);
  } finally {
    answer.finished();
  }
}
