import type { DetailTypeDefinition } from '../authorization-details';

/** The embedded default's RAR types (README "RAR"): a payment and read access to accounts. */
export const EXAMPLE_DETAIL_TYPES: Readonly<Record<string, DetailTypeDefinition>> = {
  "payment_initiation": {
    "description": "Initiate one payment (RFC 9396 §2's example): an amount to a named creditor.",
    "schema": {
      "type": "object",
      "additionalProperties": false,
      "required": [
        "type",
        "instructedAmount",
        "creditorName",
        "creditorAccount"
      ],
      "properties": {
        "type": {
          "const": "payment_initiation"
        },
        "locations": {
          "type": "array",
          "items": {
            "type": "string",
            "pattern": "^https://\\S{1,500}$"
          },
          "maxItems": 5
        },
        "actions": {
          "type": "array",
          "items": {
            "enum": [
              "initiate",
              "status",
              "cancel"
            ]
          },
          "uniqueItems": true,
          "maxItems": 3
        },
        "instructedAmount": {
          "type": "object",
          "additionalProperties": false,
          "required": [
            "currency",
            "amount"
          ],
          "properties": {
            "currency": {
              "type": "string",
              "pattern": "^[A-Z]{3}$"
            },
            "amount": {
              "type": "string",
              "pattern": "^[0-9]{1,12}(\\.[0-9]{1,2})?$"
            }
          }
        },
        "creditorName": {
          "type": "string",
          "minLength": 1,
          "maxLength": 140
        },
        "creditorAccount": {
          "type": "object",
          "additionalProperties": false,
          "required": [
            "iban"
          ],
          "properties": {
            "iban": {
              "type": "string",
              "pattern": "^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$"
            }
          }
        },
        "remittanceInformationUnstructured": {
          "type": "string",
          "maxLength": 140
        }
      }
    }
  },
  "account_information": {
    "description": "Read accounts (RFC 9396 §2.2): which actions on which data types, optionally for named accounts.",
    "schema": {
      "type": "object",
      "additionalProperties": false,
      "required": [
        "type",
        "actions"
      ],
      "properties": {
        "type": {
          "const": "account_information"
        },
        "locations": {
          "type": "array",
          "items": {
            "type": "string",
            "pattern": "^https://\\S{1,500}$"
          },
          "maxItems": 5
        },
        "actions": {
          "type": "array",
          "items": {
            "enum": [
              "list_accounts",
              "read_balances",
              "read_transactions"
            ]
          },
          "minItems": 1,
          "uniqueItems": true
        },
        "datatypes": {
          "type": "array",
          "items": {
            "type": "string",
            "maxLength": 64
          },
          "maxItems": 10,
          "uniqueItems": true
        },
        "identifier": {
          "type": "string",
          "maxLength": 64
        }
      }
    }
  }
};
