/** The repository root. */
export const ROOT: string;
/** Why dist/ must be (re)built, or null when it is current. */
export function reasonToBuild(): string | null;
