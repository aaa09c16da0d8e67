/** How long the sounds the simulator knows take to play. */

/** Playback(hello-world) took 1.42 s in recordings 34 and 35. */
export const SOUND_MS: Record<string, number> = { 'hello-world': 1420 };
