/** The catalog, in the order `klv objects` lists it. */
import type { ObjectDefinition } from '../types.js';
import { EmailTemplates } from './email-templates.js';
import { Lists } from './lists.js';
import { Metrics } from './metrics.js';
import { Profiles } from './profiles.js';

export const CATALOG: readonly ObjectDefinition[] = [EmailTemplates, Lists, Profiles, Metrics];
