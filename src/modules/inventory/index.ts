import { Counter, type Registry } from 'prom-client';

export {
  MAX_SLOTS,
  slotCountFor,
  createSlots,
  takeStock,
  releaseStock,
  confirmReserved,
  summarizeStock,
  resizeStock,
  type SlotTake,
  type TakeResult,
  type StockSummary,
} from './stock.repo.js';
export { createInventoryService, type InventoryService, type InventoryMetrics } from './inventory.service.js';
export { inventoryRoutes } from './inventory.routes.js';


export function inventoryMetrics(registry: Registry) {
  const counter = (name: string, help: string) => new Counter({ name, help, registers: [registry] });
  return {
    reserved: counter('marketing_inventory_reserved_total', 'Reservations made'),
    confirmed: counter('marketing_inventory_confirmed_total', 'Reservations confirmed'),
    cancelled: counter('marketing_inventory_cancelled_total', 'Reservations cancelled'),
    expired: counter('marketing_inventory_expired_total', 'Reservations expired by the sweep'),
  };
}
export { lowestStock, type StockLeft } from './stock.low.js';
