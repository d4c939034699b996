// Imported first by main.ts: the functions' logger takes its level from POWERTOOLS_LOG_LEVEL when
// it is constructed, and on every warm invocation Powertools resets it to that initial level
// (refreshSampleRateCalculation), undoing the level local/stack.ts sets after the fact. Setting it
// before anything imports lib/observability.ts keeps the run's output to its report.
import { chaosStackOptions } from "./settings.js";

process.env.POWERTOOLS_LOG_LEVEL ??= chaosStackOptions.env?.LOCAL_LOG_LEVEL ?? "ERROR";
