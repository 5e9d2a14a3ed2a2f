/** Turns `page` / `page_size` (already validated by the route schema) into LIMIT / OFFSET. */
export function toPage(query: { page?: number | undefined; page_size?: number | undefined }) {
  const page = query.page ?? 1;
  const pageSize = query.page_size ?? 20;
  return { page, pageSize, limit: pageSize, offset: (page - 1) * pageSize };
}

export function pagination(total: number, page: { page: number; pageSize: number }) {
  return { total, page: page.page, page_size: page.pageSize };
}
