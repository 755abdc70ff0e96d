// TypeScript declarations for the Caudal player loader (`player.js`).
// Kept true by the browser test `d_ts_matches_the_runtime_api` in tests/.

/** Buffer policy options; also settable as data-* attributes on <video data-src>. */
export interface CaudalOptions {
  /**
   * Seconds buffered before the first frame plays (and after a seek) on a link
   * just as fast as the media; scaled down on a faster link (never under 0.25 s)
   * and up on a slower one (up to 10x). Default 1.
   */
  startup?: number;
  /** Seconds ahead of the playhead to keep; nothing is fetched beyond. Default 12. */
  goal?: number;
  /** Seconds buffered before a stall ends. Default 3. */
  resume?: number;
  /** Seconds kept behind the playhead; older media is evicted. Default 30. */
  behind?: number;
  /** Most bytes held in the buffer. Default 96 MiB. `data-max-bytes` as an attribute. */
  maxBytes?: number;
  /**
   * For signed URLs (`caudal sign`, Akamai Auth Token 2.0 in `__token__=`): gives a
   * fresh URL for the file. Called with the current URL some time before its token's
   * `exp=` (30 s, or half the time left for a shorter token), so playback does not
   * wait, and once when the server refuses an expired token; requests that follow
   * use the new URL (resolved against the old one). Not an option as a data-* attribute.
   */
  authorize?: (url: string) => string | Promise<string>;
  /**
   * Live streams (`/live/NAME`): the target latency, seconds from the moment a
   * frame was made (its `prft`) to it being shown. Default 0.5; each short stall raises it 0.2 s (at most 1 s over). `data-latency`.
   */
  latency?: number;
  /** Live: the fastest catch-up playback rate when a little behind. Default 1.1. */
  maxRate?: number;
  /** Live: seconds kept behind the playhead (the live seekable window). Default 10. */
  backBuffer?: number;
  /**
   * Play `url` as a live stream (true) or a file (false); by default a URL whose
   * path is `/live/NAME` is live.
   */
  live?: boolean;
  /**
   * CMCD (CTA-5004) on media requests: "auto" (default: the CMCD-* headers for a file
   * on the page's origin, which keep its URL cacheable; the query on another origin,
   * which needs no preflight), "query", "header", or "off" (false too).
   */
  cmcd?: "auto" | "query" | "header" | "off" | false;
  /** CMCD's session id (`sid`); a new UUID per attach by default. */
  sessionId?: string;
}

export type CaudalState =
  | "idle"
  | "loading"
  | "buffering"
  | "playing"
  | "paused"
  | "stalled"
  | "seeking"
  | "ended"
  | "error"
  | "native"
  | "destroyed";

/** What `player.stats()` returns: a plain, JSON-able object. */
export interface CaudalStats {
  /** "mse": Caudal's policy drives Media Source Extensions; "native": the browser plays `src=`. */
  mode: "mse" | "native";
  /** In native mode "native", or "error" once the element could not play the file either. */
  state: CaudalState;
  /** Why playback is native, when it is. */
  reason: string | null;
  url: string;
  /** Milliseconds from attach until playback was released (first frame). */
  startupMs: number | null;
  stalls: number;
  stallMs: number;
  /** Bytes downloaded (null in native mode: not observable). */
  bytesFetched: number | null;
  /** Seconds buffered ahead of the playhead. */
  bufferAhead: number;
  /**
   * The link's estimated throughput, bits per second: the one figure the
   * policy sizes its requests and scales its startup and resume thresholds
   * by. null until a response has been measured, and in native mode. On a
   * fast link (loopback, a LAN), where responses end in under 50 ms, it is a
   * lower bound: the first such response's bytes over 50 ms.
   */
  throughput: number | null;
  /** HTTP requests made. */
  requests: number | null;
  /** Requests aborted (seeks). */
  aborted: number | null;
  /** Failed requests that were retried. */
  errors: number;
  /** Requests the server refused (HTTP 401/403: the token); null in native mode. */
  refused: number | null;
  /** Times `options.authorize` was asked for a new URL; null in native mode. */
  authorizations: number | null;
  duration: number | null;
  position: number;
  /** Buffered time ranges, [start, end] seconds. */
  buffered: Array<[number, number]>;
}

/** What `player.stats()` returns for a live stream. */
export interface CaudalLiveStats {
  mode: "mse";
  live: true;
  state: CaudalState;
  reason: null;
  url: string;
  /** Seconds from the moment the frame on screen was made (its `prft`) to now; null without. */
  latency: number | null;
  /** The latency the player holds: the `latency` option, raised 0.2 s by each short stall (at most 1 s over). */
  targetLatency: number;
  /** Milliseconds from attach until the first picture played. */
  startupMs: number | null;
  stalls: number;
  stallMs: number;
  /** Seconds buffered ahead of the playhead (to the live edge). */
  bufferAhead: number;
  /** The playback rate the catch-up rule set. */
  rate: number;
  bytesFetched: number;
  fragments: number;
  /** Connections made (the first, and each reconnect). */
  connections: number;
  /** Jumps forward when far behind. */
  jumps: number;
  /** Times the timeline moved on for a publisher that restarted. */
  rebased: number;
  /** The live edge, seconds on the element's timeline. */
  edge: number | null;
  /** Always null: a live stream's duration is Infinity. */
  duration: null;
  position: number;
  buffered: Array<[number, number]>;
}

export interface CaudalPlayer {
  /** The element it plays in. */
  readonly video: HTMLMediaElement;
  /** The absolute URL of the media. */
  readonly url: string;
  stats(): CaudalStats | CaudalLiveStats;
  /** Stops every request and detaches from the element. */
  destroy(): void;
}

export interface CaudalStateDetail {
  state: CaudalState;
  previous: CaudalState;
  mode?: "native";
  reason?: string;
}
export interface CaudalStallDetail {
  position: number;
}
export interface CaudalErrorDetail {
  /**
   * "format" | "unsupported" | "http" | "network" | "truncated" | "decode" | "internal" |
   * "forbidden" | "expired" | "media-…".
   * "forbidden": the server refused the URL's token (HTTP 403) and no `authorize` could
   * help; "expired": the token expired (or is not valid yet) and `authorize` was not
   * given, or its new URL was refused too. Both come once, never after retries.
   * "format", "unsupported" and "decode" are sent only after the file was handed to the
   * element and it could not play it either.
   */
  code: string;
  /** One sentence: what failed and why. */
  message: string;
}

export interface CaudalApi {
  /** Resolves once the wasm player is loaded. */
  ready: Promise<void>;
  /** The player's version, or null before `ready`. */
  version(): string | null;
  /** MediaSource.isTypeSupported(mime), or null before `ready`. */
  mseSupported(mime: string): boolean | null;
  /** Attach a player to `video` for `url`; replaces a previous one on the same element. */
  attach(video: HTMLMediaElement, url: string, options?: CaudalOptions): Promise<CaudalPlayer>;
  /** The player attached to `video`, or null. */
  get(video: HTMLMediaElement): CaudalPlayer | null;
  /** The URL player.js was loaded from. */
  base: string;
}

declare global {
  interface Window {
    Caudal: CaudalApi;
  }
  const Caudal: CaudalApi;
  interface HTMLMediaElementEventMap {
    "caudal:state": CustomEvent<CaudalStateDetail>;
    "caudal:stall": CustomEvent<CaudalStallDetail>;
    "caudal:error": CustomEvent<CaudalErrorDetail>;
  }
}
