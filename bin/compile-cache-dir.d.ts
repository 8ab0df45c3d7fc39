/** The compile cache directory of this install (absolute path); NODE_COMPILE_CACHE, when set, wins over it. */
export declare const COMPILE_CACHE_DIR: string
