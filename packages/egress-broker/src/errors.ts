/** A bad `EgressSession.listen` parameter: names the field and the value. */
export class EgressSessionParamsError extends Error {
  override readonly name = 'EgressSessionParamsError';

  constructor(
    readonly field: string,
    readonly value: unknown,
    detail: string,
  ) {
    super(`EgressSession.listen: ${field} ${detail} (got ${describe(value)})`);
  }
}

/** The unix socket could not be created (it exists, or its directory is not writable). */
export class EgressListenError extends Error {
  override readonly name = 'EgressListenError';

  constructor(
    readonly socketPath: string,
    options: { cause: unknown },
  ) {
    super(`EgressSession.listen: cannot listen on ${socketPath}: ${String(options.cause)}`, options);
  }
}

function describe(value: unknown): string {
  try {
    const text = typeof value === 'string' ? JSON.stringify(value) : String(value);
    return text.length > 80 ? `${text.slice(0, 80)}…` : text;
  } catch {
    return typeof value;
  }
}
