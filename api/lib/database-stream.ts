/**
 * Marks a response whose body goes on reading the database after the handler returned (an export
 * streamed page by page). The Workers entry keeps the request's connection pool open until such a
 * body is done, and takes the mark off before the response leaves.
 */
export const DATABASE_STREAM_HEADER = 'x-outdial-database-stream';
