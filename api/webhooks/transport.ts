/**
 * How a webhook request leaves the process; one implementation per runtime. The dispatcher owns the
 * attempt's deadline: `signal` aborts when it passes.
 */
export interface WebhookTransport {
  post(
    url: string,
    body: string,
    headers: Record<string, string>,
    signal: AbortSignal,
  ): Promise<{ status: number }>;
}

/** A target the policy refuses (SSRF guard): retrying cannot help. */
export class WebhookRefusedError extends Error {
  override name = 'WebhookRefusedError';
  readonly isWebhookRefused = true;
}

export function isWebhookRefused(error: unknown): error is WebhookRefusedError {
  return typeof error === 'object' && error !== null && 'isWebhookRefused' in error;
}
