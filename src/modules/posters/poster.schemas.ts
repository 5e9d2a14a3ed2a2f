import { Type, type Static } from 'typebox';

// Ids as the landing page carries them in its query string (u_id, c_id): short, no spaces or controls.
const Id = (description: string) => Type.String({ minLength: 1, maxLength: 128, pattern: '^[^\\s\\x00-\\x1f\\x7f]+$', description });
// Printed text: no control characters (they would break the SVG text layer).
const Text = (maxLength: number, description: string) => Type.String({ minLength: 1, maxLength, pattern: '^[^\\x00-\\x1f\\x7f]+$', description });

export const PosterBody = Type.Object(
  {
    campaign_id: Id('The campaign the poster invites to (404 unless it is a campaign of the caller)'),
    user_id: Id('The referrer (u_id in the landing URL)'),
    user_name: Type.Optional(Text(64, "The referrer's name printed on the poster")),
    channel_id: Type.Optional(Id('The channel (c_id in the landing URL)')),
    title: Type.Optional(Text(80, "The poster's title (default: the campaign's name)")),
    image_url: Type.Optional(Type.String({ maxLength: 2048, pattern: '^https?://', description: 'The campaign image, fetched over http(s); default: none (a colour block)' })),
  },
  { additionalProperties: false },
);
export type PosterInput = Static<typeof PosterBody>;
