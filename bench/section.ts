// Runs one benchmark section in this (fresh) process: `tsx bench/section.ts <name>`.
// bench/run.ts starts one of these per section, so each section has its own local stack and
// module state (config, SDK clients, cold starts) and nothing of one section runs behind another.
import { sections, type SectionName } from "./sections/index.js";

// Before a section imports lib/observability.ts: the functions' logger takes its level from the
// environment when it is constructed, and Powertools resets it to that level on every warm
// invocation (so the level local/stack.ts sets later does not hold). Tables stay on stdout alone.
process.env.POWERTOOLS_LOG_LEVEL ??= "ERROR";

const name = process.argv[2] as SectionName | undefined;
const section = name ? sections[name] : undefined;
if (!section) {
  console.error(`usage: tsx bench/section.ts <${Object.keys(sections).join("|")}>`);
  process.exit(2);
}
try {
  await section.run();
  process.exit(0);
} catch (error) {
  console.error(`section ${name} failed:`, error);
  process.exit(1);
}
