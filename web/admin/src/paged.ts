/**
 * One page of a list at a time, as the API pages it (`page`, `page_size`, `pagination.total`):
 * the table never holds more than one screen of rows.
 */
import { reactive, ref, type Ref } from 'vue';
import { errorText } from './api';

export const PAGE_SIZE = 20;

export interface Paged<T> {
  rows: Ref<T[]>;
  loading: Ref<boolean>;
  error: Ref<string | null>;
  pagination: { page: number; pageSize: number; itemCount: number; pageSizes: number[]; showSizePicker: boolean };
  load(page?: number): Promise<void>;
  setPageSize(size: number): Promise<void>;
}

export function usePaged<T>(fetchPage: (page: number, pageSize: number) => Promise<{ rows: T[]; total: number }>): Paged<T> {
  const rows = ref([]) as Ref<T[]>;
  const loading = ref(false);
  const error = ref<string | null>(null);
  const pagination = reactive({ page: 1, pageSize: PAGE_SIZE, itemCount: 0, pageSizes: [10, 20, 50], showSizePicker: true });
  let seq = 0;
  async function load(page = pagination.page) {
    const mine = ++seq;
    loading.value = true;
    error.value = null;
    try {
      const result = await fetchPage(page, pagination.pageSize);
      if (mine !== seq) return; // a newer request answers instead
      rows.value = result.rows;
      pagination.page = page;
      pagination.itemCount = result.total;
    } catch (err) {
      if (mine === seq) error.value = errorText(err);
    } finally {
      if (mine === seq) loading.value = false;
    }
  }
  async function setPageSize(size: number) {
    pagination.pageSize = size;
    await load(1);
  }
  return { rows, loading, error, pagination, load, setPageSize };
}

/** A date-time as the operator's browser shows it. */
export function when(value: string | null | undefined): string {
  return value ? new Date(value).toLocaleString() : '—';
}
