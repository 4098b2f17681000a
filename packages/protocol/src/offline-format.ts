/** Version of the package layout; a client refuses a package whose version it does not know. */
export const OFFLINE_PACKAGE_FORMAT = 1;
