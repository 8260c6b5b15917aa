/** Email templates for the demo shop: custom-HTML (CODE) and drag-and-drop (SYSTEM_DRAGGABLE). */
import { STORE_URL } from './events.js';

export const TEMPLATE_NAMES = [
  'Welcome Email 1 – Brand Story', 'Welcome Email 2 – Bestsellers', 'Welcome Email 3 – First Order Offer',
  'Abandoned Checkout Reminder', 'Abandoned Checkout – Last Chance', 'Browse Abandonment', 'Order Thank You',
  'Review Request', 'Replenishment Reminder', 'Winback – We Miss You', 'Winback – Final Offer',
  'Monthly Newsletter', 'New Arrivals Grid', 'Product Spotlight', 'Seasonal Lookbook', 'Flash Sale',
  'Black Friday Teaser', 'Black Friday Main', 'Cyber Monday', 'Holiday Gift Guide', 'Shipping Deadline',
  'Free Shipping Weekend', 'VIP Early Access', 'Loyalty Tier Upgrade', 'Birthday Reward', 'Back in Stock',
  'Price Drop Alert', 'Care Guide – Knitwear', 'Care Guide – Leather', 'Sustainability Report',
  'Store Event Invitation', 'Survey Invitation', 'Referral Program', 'Gift Card Promo',
  'Plain Text – Founder Note', 'Minimal Announcement', 'Sale Ending Tonight', 'Restock Roundup',
  'Trail Journal Stories', 'Year in Review',
];

export function templateHtml(name: string, heading: string): string {
  return [
    '<!DOCTYPE html>',
    '<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">',
    `<title>${name}</title></head>`,
    '<body style="margin:0;background:#F4F1EA;font-family:Georgia,serif;color:#222">',
    '<table role="presentation" width="600" align="center" style="background:#fff;padding:24px">',
    `<tr><td><h1 style="font-size:28px">${heading}</h1>`,
    "<p>Hi {{ first_name|default:'there' }},</p>",
    '<p>Thoughtfully made layers and gear for every trail, commute and cozy night in.</p>',
    `<p><a href="${STORE_URL}/collections/new" style="background:#2F5D50;color:#fff;padding:12px 20px;text-decoration:none">Shop now</a></p>`,
    '<p style="font-size:12px;color:#777">{% unsubscribe %} · {{ organization.name }}, {{ organization.full_address }}</p>',
    '</td></tr></table></body></html>',
  ].join('\n');
}

export function templateText(heading: string): string {
  return `${heading}\n\nHi {{ first_name|default:'there' }},\n\nThoughtfully made layers and gear for every trail, commute and cozy night in.\n\nShop now: ${STORE_URL}/collections/new\n\nUnsubscribe: {% unsubscribe_url %}`;
}

/** A drag-and-drop definition in the shape GET /api/templates/{id}?additional-fields[template]=definition returns. */
export function dragAndDropDefinition(heading: string): Record<string, unknown> {
  const displayAll = { show_on: 'all' };
  return {
    body: {
      properties: { id: null, css_class: null },
      styles: { background_color: '#F4F1EA', width: 600 },
      sections: [
        {
          content_type: 'section',
          type: 'section',
          data: {
            properties: { is_ai_generated: false, is_prebuilt_content: false },
            display_options: displayAll,
            styles: { background_color: '#FFFFFF', inner_padding_top: 24, inner_padding_bottom: 24, inner_padding_left: 24, inner_padding_right: 24 },
          },
          rows: [
            {
              data: { styles: { column_layout: '1-column-full-width' } },
              columns: [
                {
                  data: {},
                  blocks: [
                    {
                      content_type: 'block',
                      type: 'text',
                      data: {
                        content: `<h1>${heading}</h1><p>Hi {{ first_name|default:'there' }}, thoughtfully made layers and gear for every trail.</p>`,
                        display_options: displayAll,
                        styles: { color: '#222222', font_size: 16, line_height: 1.5, text_align: 'left' },
                      },
                    },
                    {
                      content_type: 'block',
                      type: 'button',
                      data: {
                        content: 'Shop now',
                        properties: { href: `${STORE_URL}/collections/new` },
                        display_options: displayAll,
                        styles: { background_color: '#2F5D50', color: '#FFFFFF', border_radius: 4, font_size: 16, text_align: 'center' },
                      },
                    },
                  ],
                },
              ],
            },
          ],
        },
      ],
    },
    styles: [
      { style_type: 'base-styles', properties: { mobile_optimizations: true }, styles: { content_background_color: '#FFFFFF' } },
      { style_type: 'text-styles', styles: { font_family: 'Georgia, serif', color: '#222222', font_size: 16 } },
      { style_type: 'link-styles', styles: { color: '#2F5D50', text_decoration: 'underline' } },
    ],
  };
}
