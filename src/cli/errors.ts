/**
 * UserError is a mistake the user can fix (bad flag, bad spec, impossible plan). The CLI
 * prints its message without a stack trace and exits with `exitCode`.
 */
export class UserError extends Error {
  readonly code = "USER_ERROR";
  readonly exitCode: number;

  constructor(message: string, options: { exitCode?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = "UserError";
    this.exitCode = options.exitCode ?? 1;
  }
}
