import QRCode from 'qrcode';
import sharp from 'sharp';

/**
 * The one poster template (the document's "fixed template" MVP), 750 x 1334 px, a common phone
 * poster size: the campaign image (or a colour block) in the top square, the title and the
 * referrer's name under it, and the QR code of the referral landing URL with a caption. Text is
 * an SVG layer rendered by sharp's librsvg through fontconfig: Chinese text needs a CJK font on
 * the host (fonts-noto-cjk, say); without one it prints as boxes while the QR code is unaffected.
 */
export const POSTER_WIDTH = 750;
export const POSTER_HEIGHT = 1334;
const IMAGE_SIZE = 750;
const QR_SIZE = 320;
const QR_TOP = 950;
const PLACEHOLDER = { r: 0xe8, g: 0x5d, b: 0x3f, alpha: 1 };
const FONT = "'Noto Sans CJK SC', 'Source Han Sans SC', 'PingFang SC', 'Microsoft YaHei', sans-serif";
const TITLE_SIZE = 44;
const NAME_SIZE = 30;

export interface PosterContent {
  title: string;
  userName: string | null;
  landingUrl: string;
  /** The campaign image, any format sharp reads; null = the colour block. */
  image: Buffer | null;
}

/** Renders the poster as a PNG. An image sharp cannot read also gets the colour block. */
export async function renderPoster(content: PosterContent): Promise<Buffer> {
  const [top, qr] = await Promise.all([topImage(content.image), qrCode(content.landingUrl)]);
  return sharp({ create: { width: POSTER_WIDTH, height: POSTER_HEIGHT, channels: 4, background: '#ffffff' } })
    .composite([
      { input: top, top: 0, left: 0 },
      { input: Buffer.from(textLayer(content)), top: 0, left: 0 },
      { input: qr, top: QR_TOP, left: Math.round((POSTER_WIDTH - QR_SIZE) / 2) },
    ])
    .png({ compressionLevel: 6 })
    .toBuffer();
}

async function topImage(image: Buffer | null): Promise<Buffer> {
  if (image) {
    try {
      // limitInputPixels: a small file can declare a huge canvas (a decompression bomb).
      return await sharp(image, { limitInputPixels: 40_000_000, failOn: 'error' }).rotate().resize(IMAGE_SIZE, IMAGE_SIZE, { fit: 'cover' }).png().toBuffer();
    } catch {
      // Not an image sharp can read: the colour block, as for no image.
    }
  }
  return sharp({ create: { width: IMAGE_SIZE, height: IMAGE_SIZE, channels: 4, background: PLACEHOLDER } }).png().toBuffer();
}

/** The QR code of the URL, black on white with the standard 4-module quiet zone, QR_SIZE wide. */
function qrCode(url: string): Promise<Buffer> {
  return QRCode.toBuffer(url, { type: 'png', errorCorrectionLevel: 'M', margin: 4, width: QR_SIZE, color: { dark: '#000000ff', light: '#ffffffff' } });
}

function textLayer(content: PosterContent): string {
  const lines = wrap(content.title, POSTER_WIDTH - 80, TITLE_SIZE, 2);
  const title = lines
    .map((line, i) => `<text x="40" y="${IMAGE_SIZE + 62 + i * (TITLE_SIZE + 10)}" font-size="${TITLE_SIZE}" font-weight="bold" fill="#222222">${escapeXml(line)}</text>`)
    .join('');
  const nameTop = IMAGE_SIZE + 62 + lines.length * (TITLE_SIZE + 10) + 4;
  const name = content.userName
    ? `<text x="40" y="${Math.min(nameTop, QR_TOP - 12)}" font-size="${NAME_SIZE}" fill="#666666">${escapeXml(`${truncate(content.userName, POSTER_WIDTH - 200, NAME_SIZE)} 邀请你参加`)}</text>`
    : '';
  const caption = `<text x="${POSTER_WIDTH / 2}" y="${QR_TOP + QR_SIZE + 44}" font-size="26" fill="#888888" text-anchor="middle">长按识别二维码 · Scan to join</text>`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${POSTER_WIDTH}" height="${POSTER_HEIGHT}" font-family="${FONT}">${title}${name}${caption}</svg>`;
}

/** Width estimate without font metrics: CJK and other wide characters take a full em, others about half. */
function widthOf(text: string, size: number): number {
  let em = 0;
  for (const ch of text) em += /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]|[\u{20000}-\u{3fffd}]/u.test(ch) ? 1 : 0.56;
  return em * size;
}

function truncate(text: string, width: number, size: number): string {
  if (widthOf(text, size) <= width) return text;
  const chars = [...text];
  while (chars.length > 0 && widthOf(`${chars.join('')}…`, size) > width) chars.pop();
  return `${chars.join('')}…`;
}

/** Up to `maxLines` lines of at most `width`, the last one cut with an ellipsis if the text is longer. */
function wrap(text: string, width: number, size: number, maxLines: number): string[] {
  const lines: string[] = [];
  let rest = [...text.trim()];
  while (rest.length > 0 && lines.length < maxLines) {
    if (lines.length === maxLines - 1) {
      lines.push(truncate(rest.join(''), width, size));
      break;
    }
    let n = rest.length;
    while (n > 1 && widthOf(rest.slice(0, n).join(''), size) > width) n--;
    // Break after a space when the line has one, so Latin words stay whole.
    const space = rest.slice(0, n).lastIndexOf(' ');
    if (n < rest.length && space > 0) n = space + 1;
    lines.push(rest.slice(0, n).join('').trim());
    rest = rest.slice(n);
  }
  return lines.length > 0 ? lines : [''];
}

function escapeXml(text: string): string {
  return text.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}
