/**
 * Word lists the demo account is drawn from. Emails use reserved example domains (RFC 2606) so
 * demo data exported from the emulator can never reach a real inbox if someone imports it.
 */

export const FIRST_NAMES = [
  'Olivia', 'Liam', 'Emma', 'Noah', 'Ava', 'Oliver', 'Sophia', 'Elijah', 'Isabella', 'James',
  'Mia', 'William', 'Amelia', 'Benjamin', 'Harper', 'Lucas', 'Evelyn', 'Henry', 'Abigail', 'Theodore',
  'Emily', 'Jack', 'Ella', 'Levi', 'Elizabeth', 'Alexander', 'Camila', 'Jackson', 'Luna', 'Mateo',
  'Sofia', 'Daniel', 'Avery', 'Michael', 'Mila', 'Mason', 'Aria', 'Sebastian', 'Scarlett', 'Ethan',
  'Penelope', 'Logan', 'Layla', 'Owen', 'Chloe', 'Samuel', 'Victoria', 'Jacob', 'Madison', 'Asher',
  'Eleanor', 'Aiden', 'Grace', 'John', 'Nora', 'Joseph', 'Riley', 'Wyatt', 'Zoey', 'David',
  'Hannah', 'Leo', 'Hazel', 'Luke', 'Lily', 'Julian', 'Ellie', 'Hudson', 'Violet', 'Grayson',
  'Lillian', 'Matthew', 'Zoe', 'Ezra', 'Stella', 'Gabriel', 'Aurora', 'Carter', 'Natalie', 'Isaac',
  'Priya', 'Arjun', 'Mei', 'Hiroshi', 'Yuki', 'Chen', 'Fatima', 'Omar', 'Aisha', 'Mohammed',
  'Lena', 'Jonas', 'Clara', 'Felix', 'Anna', 'Lukas', 'Chloé', 'Hugo', 'Inès', 'Louis',
];

export const LAST_NAMES = [
  'Smith', 'Johnson', 'Williams', 'Brown', 'Jones', 'Garcia', 'Miller', 'Davis', 'Rodriguez', 'Martinez',
  'Hernandez', 'Lopez', 'Gonzalez', 'Wilson', 'Anderson', 'Thomas', 'Taylor', 'Moore', 'Jackson', 'Martin',
  'Lee', 'Perez', 'Thompson', 'White', 'Harris', 'Sanchez', 'Clark', 'Ramirez', 'Lewis', 'Robinson',
  'Walker', 'Young', 'Allen', 'King', 'Wright', 'Scott', 'Torres', 'Nguyen', 'Hill', 'Flores',
  'Green', 'Adams', 'Nelson', 'Baker', 'Hall', 'Rivera', 'Campbell', 'Mitchell', 'Carter', 'Roberts',
  'Patel', 'Shah', 'Kim', 'Park', 'Wang', 'Li', 'Zhang', 'Tanaka', 'Sato', 'Suzuki',
  'Müller', 'Schmidt', 'Schneider', 'Fischer', 'Weber', 'Dubois', 'Moreau', 'Laurent', 'Bernard', 'Petit',
  "O'Brien", 'Murphy', 'Kelly', 'Walsh', 'Byrne', 'Evans', 'Hughes', 'Edwards', 'Wood', 'Turner',
];

/** Reserved documentation domains only: see the module comment. */
export const EMAIL_DOMAINS = ['example.com', 'example.net', 'example.org', 'mail.example.com', 'inbox.example.net'];

export const ORGANIZATIONS = [
  'Northwind Traders', 'Acme Outdoor Co.', 'Blue Fern Studio', 'Harbor & Finch', 'Summit Ridge Partners',
  'Maple Street Bakery', 'Brightline Logistics', 'Copper Kettle Cafe', 'Evergreen Dental', 'Lumen Design Lab',
];

export const TITLES = ['Owner', 'Marketing Manager', 'Buyer', 'Office Manager', 'Founder', 'Designer', 'Teacher', 'Nurse'];

export const STREETS = [
  'Maple Ave', 'Oak St', 'Pine Rd', 'Cedar Ln', 'Elm St', 'Washington Blvd', 'Park Ave', 'Lake Dr',
  'Hillcrest Rd', 'Sunset Blvd', 'River Rd', 'Highland Ave', 'Church St', 'Main St', 'Mill Ln', 'Station Rd',
];

export interface City {
  city: string;
  region: string;
  country: string;
  zip: string;
  timezone: string;
  latitude: number;
  longitude: number;
  /** E.164 prefix for a mobile number; the 7 digits after it encode the profile (see profiles.ts). */
  phonePrefixes: string[];
  locale: string;
  weight: number;
}

export const CITIES: City[] = [
  { city: 'New York', region: 'NY', country: 'United States', zip: '10001', timezone: 'America/New_York', latitude: 40.7128, longitude: -74.006, phonePrefixes: ['+1212', '+1646', '+1917'], locale: 'en-US', weight: 9 },
  { city: 'Brooklyn', region: 'NY', country: 'United States', zip: '11215', timezone: 'America/New_York', latitude: 40.6782, longitude: -73.9442, phonePrefixes: ['+1718', '+1347'], locale: 'en-US', weight: 5 },
  { city: 'Boston', region: 'MA', country: 'United States', zip: '02118', timezone: 'America/New_York', latitude: 42.3601, longitude: -71.0589, phonePrefixes: ['+1617', '+1857'], locale: 'en-US', weight: 5 },
  { city: 'Philadelphia', region: 'PA', country: 'United States', zip: '19103', timezone: 'America/New_York', latitude: 39.9526, longitude: -75.1652, phonePrefixes: ['+1215', '+1267'], locale: 'en-US', weight: 3 },
  { city: 'Atlanta', region: 'GA', country: 'United States', zip: '30303', timezone: 'America/New_York', latitude: 33.749, longitude: -84.388, phonePrefixes: ['+1404', '+1678'], locale: 'en-US', weight: 3 },
  { city: 'Miami', region: 'FL', country: 'United States', zip: '33130', timezone: 'America/New_York', latitude: 25.7617, longitude: -80.1918, phonePrefixes: ['+1305', '+1786'], locale: 'en-US', weight: 3 },
  { city: 'Chicago', region: 'IL', country: 'United States', zip: '60611', timezone: 'America/Chicago', latitude: 41.8781, longitude: -87.6298, phonePrefixes: ['+1312', '+1773'], locale: 'en-US', weight: 6 },
  { city: 'Austin', region: 'TX', country: 'United States', zip: '78701', timezone: 'America/Chicago', latitude: 30.2672, longitude: -97.7431, phonePrefixes: ['+1512', '+1737'], locale: 'en-US', weight: 4 },
  { city: 'Dallas', region: 'TX', country: 'United States', zip: '75201', timezone: 'America/Chicago', latitude: 32.7767, longitude: -96.797, phonePrefixes: ['+1214', '+1469'], locale: 'en-US', weight: 3 },
  { city: 'Minneapolis', region: 'MN', country: 'United States', zip: '55401', timezone: 'America/Chicago', latitude: 44.9778, longitude: -93.265, phonePrefixes: ['+1612'], locale: 'en-US', weight: 2 },
  { city: 'Denver', region: 'CO', country: 'United States', zip: '80202', timezone: 'America/Denver', latitude: 39.7392, longitude: -104.9903, phonePrefixes: ['+1303', '+1720'], locale: 'en-US', weight: 3 },
  { city: 'Phoenix', region: 'AZ', country: 'United States', zip: '85004', timezone: 'America/Phoenix', latitude: 33.4484, longitude: -112.074, phonePrefixes: ['+1602', '+1480'], locale: 'en-US', weight: 2 },
  { city: 'Los Angeles', region: 'CA', country: 'United States', zip: '90012', timezone: 'America/Los_Angeles', latitude: 34.0522, longitude: -118.2437, phonePrefixes: ['+1213', '+1310', '+1323'], locale: 'en-US', weight: 7 },
  { city: 'San Francisco', region: 'CA', country: 'United States', zip: '94103', timezone: 'America/Los_Angeles', latitude: 37.7749, longitude: -122.4194, phonePrefixes: ['+1415', '+1628'], locale: 'en-US', weight: 4 },
  { city: 'Seattle', region: 'WA', country: 'United States', zip: '98101', timezone: 'America/Los_Angeles', latitude: 47.6062, longitude: -122.3321, phonePrefixes: ['+1206'], locale: 'en-US', weight: 3 },
  { city: 'Portland', region: 'OR', country: 'United States', zip: '97205', timezone: 'America/Los_Angeles', latitude: 45.5152, longitude: -122.6784, phonePrefixes: ['+1503', '+1971'], locale: 'en-US', weight: 2 },
  { city: 'Toronto', region: 'ON', country: 'Canada', zip: 'M5V 2T6', timezone: 'America/Toronto', latitude: 43.6532, longitude: -79.3832, phonePrefixes: ['+1416', '+1647'], locale: 'en-CA', weight: 4 },
  { city: 'Vancouver', region: 'BC', country: 'Canada', zip: 'V6B 1A1', timezone: 'America/Vancouver', latitude: 49.2827, longitude: -123.1207, phonePrefixes: ['+1604', '+1778'], locale: 'en-CA', weight: 2 },
  { city: 'Montreal', region: 'QC', country: 'Canada', zip: 'H2Y 1C6', timezone: 'America/Toronto', latitude: 45.5017, longitude: -73.5673, phonePrefixes: ['+1514', '+1438'], locale: 'fr-CA', weight: 2 },
  { city: 'London', region: 'England', country: 'United Kingdom', zip: 'EC1A 1BB', timezone: 'Europe/London', latitude: 51.5074, longitude: -0.1278, phonePrefixes: ['+4477', '+4478', '+4479'], locale: 'en-GB', weight: 5 },
  { city: 'Manchester', region: 'England', country: 'United Kingdom', zip: 'M1 1AE', timezone: 'Europe/London', latitude: 53.4808, longitude: -2.2426, phonePrefixes: ['+4475', '+4474'], locale: 'en-GB', weight: 2 },
  { city: 'Edinburgh', region: 'Scotland', country: 'United Kingdom', zip: 'EH1 1YZ', timezone: 'Europe/London', latitude: 55.9533, longitude: -3.1883, phonePrefixes: ['+4473'], locale: 'en-GB', weight: 1 },
  { city: 'Dublin', region: 'Leinster', country: 'Ireland', zip: 'D02 X285', timezone: 'Europe/Dublin', latitude: 53.3498, longitude: -6.2603, phonePrefixes: ['+35383', '+35385', '+35387'], locale: 'en-IE', weight: 1 },
  { city: 'Berlin', region: 'Berlin', country: 'Germany', zip: '10115', timezone: 'Europe/Berlin', latitude: 52.52, longitude: 13.405, phonePrefixes: ['+49151', '+49160', '+49170'], locale: 'de-DE', weight: 2 },
  { city: 'Paris', region: 'Île-de-France', country: 'France', zip: '75004', timezone: 'Europe/Paris', latitude: 48.8566, longitude: 2.3522, phonePrefixes: ['+3361', '+3367'], locale: 'fr-FR', weight: 2 },
  { city: 'Amsterdam', region: 'North Holland', country: 'Netherlands', zip: '1012 JS', timezone: 'Europe/Amsterdam', latitude: 52.3676, longitude: 4.9041, phonePrefixes: ['+3161'], locale: 'nl-NL', weight: 1 },
  { city: 'Sydney', region: 'NSW', country: 'Australia', zip: '2000', timezone: 'Australia/Sydney', latitude: -33.8688, longitude: 151.2093, phonePrefixes: ['+6141', '+6142'], locale: 'en-AU', weight: 3 },
  { city: 'Melbourne', region: 'VIC', country: 'Australia', zip: '3000', timezone: 'Australia/Melbourne', latitude: -37.8136, longitude: 144.9631, phonePrefixes: ['+6143', '+6140'], locale: 'en-AU', weight: 2 },
];

export interface Product {
  id: string;
  sku: string;
  name: string;
  category: string;
  price: number;
  slug: string;
}

const product = (id: number, name: string, category: string, price: number): Product => ({
  id: String(8_100_000_000 + id * 7_919),
  sku: `JP-${category.slice(0, 3).toUpperCase()}-${String(1000 + id)}`,
  name,
  category,
  price,
  slug: name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/(^-|-$)/g, ''),
});

export const CATEGORIES = ['Outerwear', 'Knitwear', 'Footwear', 'Accessories', 'Home', 'Bags'];

export const PRODUCTS: Product[] = [
  product(1, 'Alpine Down Parka', 'Outerwear', 289.0),
  product(2, 'Harbor Rain Shell', 'Outerwear', 168.0),
  product(3, 'Trailhead Fleece Jacket', 'Outerwear', 98.0),
  product(4, 'Merino Crew Sweater', 'Knitwear', 89.0),
  product(5, 'Cable Knit Cardigan', 'Knitwear', 118.0),
  product(6, 'Cashmere Beanie', 'Knitwear', 54.0),
  product(7, 'Ridge Hiking Boot', 'Footwear', 179.0),
  product(8, 'Everyday Canvas Sneaker', 'Footwear', 72.0),
  product(9, 'Shearling Slipper', 'Footwear', 64.0),
  product(10, 'Waxed Canvas Tote', 'Bags', 86.0),
  product(11, 'Weekender Duffel', 'Bags', 148.0),
  product(12, 'Roll-Top Daypack', 'Bags', 112.0),
  product(13, 'Leather Card Wallet', 'Accessories', 38.0),
  product(14, 'Wool Blend Scarf', 'Accessories', 45.0),
  product(15, 'Insulated Trail Bottle', 'Accessories', 32.0),
  product(16, 'Enamel Camp Mug Set', 'Home', 28.0),
  product(17, 'Wool Throw Blanket', 'Home', 135.0),
  product(18, 'Cedar & Pine Candle', 'Home', 26.0),
];

export const BIRTH_YEARS = { min: 1955, max: 2005 };
