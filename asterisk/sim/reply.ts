/** What a REST operation of the simulator answers; the HTTP layer turns it into a Response. */
export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** ARI's error shape: `{"message": ...}` with a status. */
export const fail = (status: number, message: string): Reply => ({ status, body: { message } });
