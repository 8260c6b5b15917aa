/** The catalog, in the order `klv objects` lists it. */
import type { ObjectDefinition } from '../types.js';
import { Campaigns } from './campaigns.js';
import { Events } from './events.js';
import { ListExclusions } from './list-exclusions.js';
import { ListMembers } from './list-members.js';
import { ListSubscribe } from './list-subscribe.js';
import { PeopleExclusions } from './people-exclusions.js';
import { SegmentMembers } from './segment-members.js';
import { CatalogItems } from './catalog-items.js';
import { CouponCodes } from './coupon-codes.js';
import { Coupons } from './coupons.js';
import { Flows } from './flows.js';
import { Segments } from './segments.js';
import { Tags } from './tags.js';
import { EmailTemplates } from './email-templates.js';
import { Lists } from './lists.js';
import { Metrics } from './metrics.js';
import { Profiles } from './profiles.js';

export const CATALOG: readonly ObjectDefinition[] = [Campaigns, EmailTemplates, Lists, ListMembers, ListSubscribe, PeopleExclusions, ListExclusions, Profiles, Metrics, Events, Segments, SegmentMembers, Flows, Tags, Coupons, CouponCodes, CatalogItems];
