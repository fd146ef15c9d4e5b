/** The oldest Node major imagegate runs on; "engines" in package.json says the same. */
export declare const MIN_NODE_MAJOR: number;
/** Why this Node cannot run imagegate, as a message for stderr, or undefined when it can. */
export declare function nodeVersionProblem(version: string): string | undefined;
