// Types of scripts/use-node.mjs, which is plain JavaScript (it runs before the dependencies exist).
export declare const REQUIRED_NODE_MAJOR: number;
export declare const PINNED_NODE_VERSION: string;
export declare const PINNED_NODE_PACKAGE: string;
export declare function needsPinnedNode(version: string): boolean;
export declare function cacheDir(env?: NodeJS.ProcessEnv): string;
export declare function pinnedNodePaths(cache?: string): { prefix: string; binDir: string };
export declare function ensurePinnedNode(cache?: string, platform?: string): string;
export declare function withNodeOnPath(binDir: string, env?: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
